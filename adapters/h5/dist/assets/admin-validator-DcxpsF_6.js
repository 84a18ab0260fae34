import{R as i}from"./admin-hzQGODpV.js";const n=o=>["",...i].includes(o);export{n as i};
