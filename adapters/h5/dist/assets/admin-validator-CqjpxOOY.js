import{R as i}from"./admin-BXVOdqu9.js";const n=o=>["",...i].includes(o);export{n as i};
